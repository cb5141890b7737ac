require ["imap4flags", "fileinto"];
if header :contains "X-Spam-Flag" "YES" { addflag "\\Seen"; fileinto "spam"; }
if exists "List-Id" { setflag ["\\Flagged", "$List"]; }
