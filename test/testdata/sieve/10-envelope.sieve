require ["envelope", "fileinto"];
if envelope :is "from" "sender@example.org" { fileinto "from-sender"; }
if envelope :domain :is "to" "example.com" { fileinto "to-example"; }
