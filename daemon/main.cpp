#include <cstdio>
int main() { std::puts("p2p-ingestd: not built yet"); return 1; }
