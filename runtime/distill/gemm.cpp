#include "runtime/distill/gemm.h"

#include <algorithm>
#include <string>
#include <thread>

#ifdef BCVK_HAVE_OPENBLAS
#include <cblas-openblas.h>
#else
#include <Eigen/Dense>
#endif

namespace bcvk::distill {

namespace {
unsigned g_threads = std::max(1u, std::thread::hardware_concurrency());
}  // namespace

void set_host_threads(unsigned threads) {
  g_threads = threads ? threads : std::max(1u, std::thread::hardware_concurrency());
#ifdef BCVK_HAVE_OPENBLAS
  openblas_set_num_threads(int(g_threads));
#else
  Eigen::setNbThreads(int(g_threads));
#endif
}

unsigned host_threads() {
  return g_threads;
}

const char* blas_name() {
#ifdef BCVK_HAVE_OPENBLAS
  return "OpenBLAS";
#else
  return "Eigen";
#endif
}

#ifdef BCVK_HAVE_OPENBLAS
template <>
void gemm<float>(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
              K, alpha, A, lda, B, ldb, beta, C, ldc);
}
template <>
void gemm<double>(bool ta, bool tb, int M, int N, int K, double alpha, const double* A, int lda,
                  const double* B, int ldb, double beta, double* C, int ldc) {
  if (M == 0 || N == 0) return;
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
              K, alpha, A, lda, B, ldb, beta, C, ldc);
}
#else
template <class R>
void gemm(bool ta, bool tb, int M, int N, int K, R alpha, const R* A, int lda, const R* B, int ldb,
          R beta, R* C, int ldc) {
  if (M == 0 || N == 0) return;
  using Mat = Eigen::Matrix<R, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Map = Eigen::Map<const Mat, 0, Eigen::OuterStride<> >;
  Eigen::Map<Mat, 0, Eigen::OuterStride<> > c(C, M, N, Eigen::OuterStride<>(ldc));
  const Map a(A, ta ? K : M, ta ? M : K, Eigen::OuterStride<>(lda));
  const Map b(B, tb ? N : K, tb ? K : N, Eigen::OuterStride<>(ldb));
  if (beta == R(0))
    c.setZero();
  else if (beta != R(1))
    c *= beta;
  if (K == 0) return;
  if (ta && tb)
    c.noalias() += alpha * a.transpose() * b.transpose();
  else if (ta)
    c.noalias() += alpha * a.transpose() * b;
  else if (tb)
    c.noalias() += alpha * a * b.transpose();
  else
    c.noalias() += alpha * a * b;
}
template void gemm<float>(bool, bool, int, int, int, float, const float*, int, const float*, int,
                          float, float*, int);
template void gemm<double>(bool, bool, int, int, int, double, const double*, int, const double*,
                           int, double, double*, int);
#endif

}  // namespace bcvk::distill
