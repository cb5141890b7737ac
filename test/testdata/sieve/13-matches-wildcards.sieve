require "fileinto";
if header :matches "Subject" "Meeting on ??nday" { fileinto "meeting"; }
if header :matches "Message-ID" "<*@*.example*>" { fileinto "example-id"; }
if header :matches "Subject" "\\[dev\\] *" { fileinto "escaped"; }
