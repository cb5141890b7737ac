require ["include", "fileinto"];
include :global "spamfilter";
if exists "List-Id" { fileinto "lists"; }
