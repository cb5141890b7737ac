// The `petrel` command line: serve, check-config, queue ..., table query, user ..., version.
#pragma once

namespace petrel::cli {

int run(int argc, char** argv);

}  // namespace petrel::cli
