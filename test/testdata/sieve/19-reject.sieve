require "reject";
if header :contains "X-Spam-Flag" "YES" { reject "No spam, thank you."; }
