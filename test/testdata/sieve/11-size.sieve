require "fileinto";
if size :over 300 { fileinto "big"; }
if size :under 300 { fileinto "small"; }
