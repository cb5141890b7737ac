// The `petrel` command line: serve, check-config, queue ..., version.
#pragma once

namespace petrel::cli {

int run(int argc, char** argv);

}  // namespace petrel::cli
