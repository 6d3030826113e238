// Required arguments live in the constructor: a fixed read without its
// file, span and offset must not compile.
#include <uio/uio.hpp>

int main()
{
    uio::ReadFixed<uio::Fd> op;
    return sizeof(op) == 0;
}
