require "fileinto";
if exists "From" { fileinto "first"; stop; }
fileinto "never";
