require "vacation";
vacation :days 1 :mime text:
Content-Type: text/plain

..I am away.
.
;
