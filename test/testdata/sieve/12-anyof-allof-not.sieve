require "fileinto";
if anyof (header :contains "Subject" "Release", exists "X-Nope") { fileinto "any"; }
if allof (exists "From", not exists "List-Id", header :matches "Subject" "*") { fileinto "all"; }
if not true { discard; }
