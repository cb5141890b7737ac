require "fileinto";
if header :contains "Subject" "wön" { fileinto "decoded"; }
