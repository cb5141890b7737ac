// QueryTemplate: placeholders instead of pasted keys, Postfix's %s/%u/%d, LDAP escaping.
#include "../../../source/lookup/query_template.h"

#include <gtest/gtest.h>

namespace petrel::lookup {
namespace {

using Values = std::vector<std::string>;

TEST(QueryTemplate, ExpansionsBecomePlaceholders) {
  QueryTemplate q("SELECT goto FROM alias WHERE address = %s AND domain = %d AND x LIKE '5%%'");
  EXPECT_EQ(q.sql(QueryTemplate::Placeholders::Question),
            "SELECT goto FROM alias WHERE address = ? AND domain = ? AND x LIKE '5%'");
  EXPECT_EQ(q.sql(QueryTemplate::Placeholders::Dollar),
            "SELECT goto FROM alias WHERE address = $1 AND domain = $2 AND x LIKE '5%'");
  EXPECT_EQ(q.values("alice@example.test"), (Values{"alice@example.test", "example.test"}));
}

TEST(QueryTemplate, AnInjectionAttemptIsOnlyAValue) {
  QueryTemplate q("SELECT maildir FROM mailbox WHERE username = %s");
  std::string evil = "'; DROP TABLE mailbox; --@example.test";
  EXPECT_EQ(q.sql(QueryTemplate::Placeholders::Question),
            "SELECT maildir FROM mailbox WHERE username = ?");
  EXPECT_EQ(q.values(evil), Values{evil});
}

TEST(QueryTemplate, DomainOrLocalPartMissingMeansNoQuery) {
  QueryTemplate d("SELECT 1 FROM domain WHERE domain = %d");
  EXPECT_EQ(d.values("example.test"), std::nullopt);  // no '@': Postfix does not query
  EXPECT_EQ(d.values("a@"), std::nullopt);
  QueryTemplate u("SELECT 1 FROM mailbox WHERE local_part = %u");
  EXPECT_EQ(u.values("bob"), Values{"bob"});
  EXPECT_EQ(u.values("@example.test"), std::nullopt);
}

TEST(QueryTemplate, LdapFilterValuesAreEscaped) {
  QueryTemplate f("(&(mail=%s)(objectClass=inetOrgPerson))");
  EXPECT_EQ(f.ldapFilter("a*)(uid=*)@x.test"),
            "(&(mail=a\\2a\\29\\28uid=\\2a\\29@x.test)(objectClass=inetOrgPerson))");
  EXPECT_EQ(f.ldapFilter("back\\slash@x.test"),
            "(&(mail=back\\5cslash@x.test)(objectClass=inetOrgPerson))");
}

}  // namespace
}  // namespace petrel::lookup
