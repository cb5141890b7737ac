require "vacation";
if not exists "List-Id" {
  vacation :days 3 :subject "Out of office" :addresses ["bob@example.com"] "I am away until Monday.";
}
