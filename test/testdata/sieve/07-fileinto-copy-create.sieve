require ["fileinto", "copy", "mailbox"];
if exists "List-Id" { fileinto :create "Lists"; }
fileinto :copy "All";
