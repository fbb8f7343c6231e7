// Row-major matrix products for the host-side training code: C = alpha op(A) op(B) + beta C.
// float and double, through OpenBLAS where the build found it (multi-threaded, run-time CPU
// dispatch) and Eigen otherwise (the arm64 cross-build).  Results are deterministic for a given
// thread count.  Test: tests/distill/host_ops_test.cpp.
#pragma once

#include <cstdint>

namespace bcvk::distill {

// A: M x K (or K x M when ta), B: K x N (or N x K when tb), C: M x N; leading dimensions are the
// row strides of the matrices as stored.
template <class R>
void gemm(bool ta, bool tb, int M, int N, int K, R alpha, const R* A, int lda, const R* B, int ldb,
          R beta, R* C, int ldc);

// Threads the host numerics use (BLAS and bcvk's own loops); 0 = every core.
void set_host_threads(unsigned threads);
unsigned host_threads();
// "OpenBLAS 0.3.21 (pthreads, N threads)" or "Eigen (N threads)".
const char* blas_name();

}  // namespace bcvk::distill
