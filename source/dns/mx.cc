// MX helpers; see mx.h (sortMx is a template there).
#include "petrel/dns/mx.h"

namespace petrel::dns {

bool isNullMx(const std::vector<MxRecord>& mx) {
  return mx.size() == 1 && mx.front().preference == 0 && mx.front().exchange == ".";
}

}  // namespace petrel::dns
