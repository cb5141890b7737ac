require "fileinto";
if address :localpart :is "To" "carol" { fileinto "carol"; }
if address :domain :is "Cc" "example.com" { fileinto "cc-example"; }
if address :all :contains "From" "lottery" { fileinto "lottery"; }
