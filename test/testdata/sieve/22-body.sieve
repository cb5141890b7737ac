require ["body", "fileinto"];
if body :contains "prize" { fileinto "prize"; }
if body :text :contains "café" { fileinto "cafe"; }
if body :raw :contains "JVBERi0" { fileinto "raw-pdf"; }
