#include "synth.h"
// Implementation pending (sandbox data helper).
