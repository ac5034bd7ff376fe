// Loads a TorchScript module saved from Python (make_model.py), runs it on the input
// stored in it and checks every result against the eager output stored next to it.
//
//   run_model model.pt [calls]
//
// Built with torch_fuser (WITH_TORCH_FUSER) it enables fusion and reports how many fused
// kernels ran; built without, it is a plain libtorch program, which torch_fuser can still
// fuse from outside: LD_PRELOAD=.../libtorch_fuser.so TORCH_FUSER_ENABLE=1.
#include <torch/script.h>

#ifdef WITH_TORCH_FUSER
#include <torch_fuser/interface.h>
#endif

#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " model.pt [calls]\n";
    return 2;
  }
  const int calls = argc > 2 ? std::atoi(argv[2]) : 5;
#ifdef WITH_TORCH_FUSER
  torch_fuser::enable();
#endif
  torch::jit::Module model = torch::jit::load(argv[1]);
  model.eval();
  const at::Tensor input = model.attr("example_input").toTensor();
  const at::Tensor expected = model.attr("expected_output").toTensor();

  torch::NoGradGuard no_grad;
  int mismatches = 0;
  // The profiling executor optimizes (and fuses) after its profiling runs: every call is
  // checked, the profiled ones and the optimized ones.
  for (int call = 0; call < calls; ++call) {
    const at::Tensor output = model.forward({input}).toTensor();
    if (!torch::allclose(output, expected, 1e-5, 1e-5)) {
      std::cerr << "call " << call << ": result differs from eager, max error "
                << (output - expected).abs().max().item<double>() << "\n";
      ++mismatches;
    }
  }
#ifdef WITH_TORCH_FUSER
  // Kernels compile in the background while those calls run the interpreter; once they
  // are ready, calls run them.
  torch_fuser::waitForCompilations();
  const at::Tensor fused = model.forward({input}).toTensor();
  if (!torch::allclose(fused, expected, 1e-5, 1e-5)) {
    std::cerr << "fused call: result differs from eager\n";
    ++mismatches;
  }
#endif
  std::cout << calls << " calls, "
            << (mismatches ? "results DIFFER from eager" : "results match eager") << "\n";
#ifdef WITH_TORCH_FUSER
  const torch_fuser::Stats stats = torch_fuser::getStats();
  std::cout << "fused kernels run: " << stats.kernel_launches << " (compiled "
            << stats.kernels_compiled << ", fallbacks " << stats.fallbacks << ")\n";
#endif
  return mismatches == 0 ? 0 : 1;
}
