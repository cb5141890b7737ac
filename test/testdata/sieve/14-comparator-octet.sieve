require ["fileinto", "comparator-i;octet"];
if header :comparator "i;octet" :contains "Subject" "invoice" { fileinto "lower"; }
if header :comparator "i;ascii-casemap" :contains "Subject" "invoice" { fileinto "casemap"; }
