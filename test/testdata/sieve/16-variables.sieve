require ["variables", "fileinto"];
if header :matches "From" "*<*@*>" { set :lower "dom" "${3}"; fileinto "from.${dom}"; }
set "x" "value"; set :length "n" "${x}";
if string :is "${n}" "5" { fileinto "len5"; }
