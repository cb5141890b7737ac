require ["envelope", "subaddress", "fileinto", "variables"];
if address :detail :matches "To" "*" { fileinto "detail-${1}"; }
if address :user :is "To" "bob" { fileinto "user-bob"; }
