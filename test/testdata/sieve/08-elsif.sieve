require "fileinto";
if header :contains "Subject" "Invoice" { fileinto "Invoices"; }
elsif header :matches "Subject" "[dev]*" { fileinto "Dev"; }
elsif header :is "X-Spam-Flag" "YES" { fileinto "Junk"; }
else { keep; }
