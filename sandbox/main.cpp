#include <cstdio>
int main() { std::puts("p2p-sandbox: not built yet"); return 1; }
