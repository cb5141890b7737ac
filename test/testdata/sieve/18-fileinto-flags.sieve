require ["imap4flags", "fileinto"];
fileinto :flags "\\Answered" "Flagged";
