// torch_fuser._C: the Python face of interface.h.
#include "torch/csrc/jit/codegen/fuser/executor.h"
#include "torch/csrc/jit/codegen/fuser/interface.h"
#include "torch/csrc/jit/codegen/fuser/options.h"

#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/python/pybind_utils.h>
#include <torch/csrc/utils/pybind.h>

namespace py = pybind11;

namespace {

py::dict toPython(const torch_fuser::Explanation& e) {
  py::list nodes;
  for (const torch_fuser::NodeExplanation& n : e.nodes) {
    py::dict d;
    d["graph"] = n.graph;
    d["op"] = n.op;
    d["location"] = n.location;
    d["type"] = n.type;
    d["fused"] = n.group >= 0;
    d["group"] = n.group >= 0 ? py::object(py::int_(n.group)) : py::object(py::none());
    d["reason"] = n.group >= 0 ? py::object(py::none()) : py::object(py::str(n.reason));
    nodes.append(d);
  }
  py::list groups;
  for (const torch_fuser::GroupExplanation& g : e.groups) {
    py::dict d;
    d["graph"] = g.graph;
    d["kernel_name"] = g.kernel_name;
    d["ops"] = g.ops;
    d["kernels"] = g.kernels;
    d["launches"] = g.launches;
    py::dict fallbacks;
    for (const auto& f : g.fallbacks) fallbacks[py::str(f.first)] = f.second;
    d["fallbacks"] = fallbacks;
    groups.append(d);
  }
  py::dict out;
  out["nodes"] = nodes;
  out["groups"] = groups;
  out["notes"] = e.notes;
  out["optimized_graph"] = e.optimized_graph;
  out["report"] = e.report();
  return out;
}

// Python values for the graph's inputs from `first` on, converted to their declared types.
void appendInputs(const torch::jit::Graph& graph, size_t first, const py::tuple& inputs,
                  std::vector<c10::IValue>& values) {
  TORCH_CHECK(graph.inputs().size() == first + inputs.size(), "explain: the function takes ",
              graph.inputs().size() - first, " inputs, found ", inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    values.push_back(torch::jit::toIValue(inputs[i], graph.inputs()[first + i]->type()));
  }
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "torch_fuser: pointwise kernel fusion for TorchScript";
  m.def("enable", &torch_fuser::enable, py::arg("cpu") = true, py::arg("cuda") = true);
  m.def("disable", &torch_fuser::disable);
  m.def("is_enabled", &torch_fuser::isEnabled);
  m.def("set_min_group_size", [](int64_t size, const c10::optional<std::string>& device) {
    c10::optional<c10::DeviceType> type;
    if (device) type = c10::Device(*device).type();
    torch_fuser::setMinGroupSize(size, type);
  });
  m.def("min_group_size", [](const std::string& device) {
    return torch_fuser::minGroupSize(c10::Device(device).type());
  });
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
  m.def("_explain_graph",
        [](std::shared_ptr<torch::jit::Graph> graph, const py::tuple& inputs, int runs) {
          std::vector<c10::IValue> values;
          appendInputs(*graph, 0, inputs, values);
          return toPython(torch_fuser::explain(graph, values, runs));
        });
  m.def("_explain_module", [](const torch::jit::Module& module, const py::tuple& inputs, int runs) {
    const std::shared_ptr<torch::jit::Graph> graph = module.get_method("forward").graph();
    std::vector<c10::IValue> values = {module._ivalue()};
    appendInputs(*graph, 1, inputs, values);
    return toPython(torch_fuser::explain(graph, values, runs));
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
    d["compiles_pending"] = s.compiles_pending;
    d["graphs_captured"] = s.graphs_captured;
    d["graph_replays"] = s.graph_replays;
    return d;
  });
  m.def("set_background_compilation", &torch_fuser::setBackgroundCompilation, py::arg("on"));
  m.def("is_background_compilation", &torch_fuser::isBackgroundCompilation);
  // Releases the GIL: a compile may be waiting for it (a Python-side hook, another thread).
  m.def("wait_for_compilations", &torch_fuser::waitForCompilations,
        py::call_guard<py::gil_scoped_release>());
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
