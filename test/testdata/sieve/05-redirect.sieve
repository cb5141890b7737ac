if address :is :domain "from" "example.org" { redirect "archive@example.net"; }
