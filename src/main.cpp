// Thin entry point: `stiffness train ...` (the job). See src/nn/job.cpp.
#include <cstdio>
#include <cstring>

int run_cli(int argc, char** argv);

int main(int argc, char** argv) { return run_cli(argc, argv); }
