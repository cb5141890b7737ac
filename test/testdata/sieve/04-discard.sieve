if header :contains "subject" "won" { discard; }
