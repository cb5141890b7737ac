require "fileinto";
if header :is "Precedence" "list" { discard; stop; }
if exists "X-Spam-Flag" { fileinto "INBOX"; }
