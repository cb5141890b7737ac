require "fileinto";
if header :is ["X-Nope", "Subject"] ["x", "Invoice 42", "Release"] { fileinto "listed"; }
if address :is ["From", "Sender"] ["grace@example.org", "dave@lists.example.net"] { fileinto "known"; }
