require ["relational", "comparator-i;ascii-numeric", "fileinto"];
if header :value "ge" :comparator "i;ascii-numeric" "X-Spam-Score" "10" { fileinto "score-high"; }
elsif header :value "gt" :comparator "i;ascii-numeric" "X-Spam-Score" "0" { fileinto "score-low"; }
if address :count "ge" :comparator "i;ascii-numeric" ["To", "Cc"] "2" { fileinto "many-rcpt"; }
