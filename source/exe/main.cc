// petrel: entry point; everything else is in the library so tests can link it.
#include "petrel/cli/cli.h"

int main(int argc, char** argv) { return petrel::cli::run(argc, argv); }
