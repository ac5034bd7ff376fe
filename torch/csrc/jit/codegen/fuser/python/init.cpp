// torch_fuser._C: the Python face of interface.h.
#include "torch/csrc/jit/codegen/fuser/executor.h"
#include "torch/csrc/jit/codegen/fuser/interface.h"
#include "torch/csrc/jit/codegen/fuser/options.h"

#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/python/pybind_utils.h>
#include <torch/csrc/utils/pybind.h>

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  m.doc() = "torch_fuser: pointwise kernel fusion for TorchScript";
  m.def("enable", &torch_fuser::enable, py::arg("cpu") = true, py::arg("cuda") = true);
  m.def("disable", &torch_fuser::disable);
  m.def("is_enabled", &torch_fuser::isEnabled);
  // TORCH_FUSER_ENABLE as the library read it: True ("1"), False ("0") or None.
  m.def("enable_request", []() -> py::object {
    switch (torch_fuser::enableRequestFromEnvironment()) {
      case torch_fuser::EnableRequest::kOn:
        return py::bool_(true);
      case torch_fuser::EnableRequest::kOff:
        return py::bool_(false);
      case torch_fuser::EnableRequest::kUnset:
        break;
    }
    return py::none();
  });
  m.def("fuse_graph",
        [](std::shared_ptr<torch::jit::Graph> graph) { torch_fuser::fuseGraph(graph); });
  m.def("debug_kernel_code", [](std::shared_ptr<torch::jit::Graph> graph, const py::tuple& inputs) {
    std::vector<c10::IValue> values;
    for (const py::handle& input : inputs)
      values.push_back(torch::jit::toIValue(input, c10::AnyType::get()));
    return torch_fuser::debugGetFusedKernelCode(graph, values);
  });
  m.def("stats", [] {
    const torch_fuser::Stats s = torch_fuser::getStats();
    py::dict d;
    d["kernels_compiled"] = s.kernels_compiled;
    d["memory_cache_hits"] = s.memory_cache_hits;
    d["disk_cache_hits"] = s.disk_cache_hits;
    d["fallbacks"] = s.fallbacks;
    d["kernel_launches"] = s.kernel_launches;
    d["compile_seconds"] = s.compile_seconds;
    d["fusion_groups_registered"] = s.fusion_groups_registered;
    d["fusions_cached"] = s.fusions_cached;
    d["kernels_cached"] = s.kernels_cached;
    d["fusions_evicted"] = s.fusions_evicted;
    d["kernels_evicted"] = s.kernels_evicted;
    return d;
  });
  m.def("set_cache_limits", &torch_fuser::setCacheLimits, py::arg("max_fusions") = 0,
        py::arg("max_kernels_per_fusion") = 0);
  m.def("clear_cache", &torch_fuser::clearCache);
  // Calls fn(*args) and returns the source of every kernel launched meanwhile.
  m.def("_record_kernel_sources", [](const py::function& fn, const py::args& args) {
    torch_fuser::KernelSourceRecorder recorder;
    fn(*args);
    return recorder.sources();
  });
}
