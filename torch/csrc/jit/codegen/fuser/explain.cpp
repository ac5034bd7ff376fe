#include "torch/csrc/jit/codegen/fuser/explain.h"

#include "torch/csrc/jit/codegen/fuser/kernel_cache.h"
#include "torch/csrc/jit/codegen/fuser/options.h"

#include <torch/csrc/jit/ir/ir.h>

#include <iomanip>
#include <sstream>

namespace torch_fuser {
namespace {

thread_local ExplainRecorder* active_recorder = nullptr;

std::string locationOf(const torch::jit::Node& node) {
  const auto where = node.sourceRange().file_line_col();
  if (!where) return {};
  const std::string& file = std::get<0>(*where);
  return file.substr(file.find_last_of('/') + 1) + ":" + std::to_string(std::get<1>(*where));
}

GroupExplanation explainGroup(int64_t graph, const std::shared_ptr<torch::jit::Graph>& subgraph) {
  GroupExplanation group;
  group.graph = graph;
  group.kernel_name = fusionName(*subgraph);
  for (const torch::jit::Node* node : subgraph->nodes()) {
    if (ExplainRecorder::isReported(node)) group.ops.push_back(node->kind().toQualString());
  }
  // Registered under its normalized subgraph when the executor first ran it.
  if (const std::shared_ptr<KernelSpec> spec = lookupFusion(*normalizeGraph(*subgraph))) {
    group.kernels = spec->kernelSignatures();
    group.launches = spec->launches();
    for (const auto& entry : spec->fallbackCounts()) group.fallbacks.push_back(entry);
  }
  return group;
}

}  // namespace

ExplainRecorder::ExplainRecorder() : previous_(active_recorder) {
  active_recorder = this;
}

ExplainRecorder::~ExplainRecorder() {
  active_recorder = previous_;
}

ExplainRecorder* ExplainRecorder::active() {
  return active_recorder;
}

bool ExplainRecorder::isReported(const torch::jit::Node* node) {
  switch (node->kind()) {
    case c10::prim::Constant:
    case c10::prim::profile:
    case c10::prim::profile_ivalue:
    case c10::prim::ListConstruct:
    case c10::prim::ListUnpack:
    case c10::prim::TupleConstruct:
    case c10::prim::TupleUnpack:
    case c10::prim::GetAttr:
    case c10::prim::If:
    case c10::prim::Loop:
      return false;
    default:
      return true;
  }
}

NodeExplanation ExplainRecorder::describe(const torch::jit::Node& node, int64_t group,
                                          std::string reason, const c10::TensorTypePtr& type) {
  NodeExplanation line;
  line.op = node.kind().toQualString();
  line.location = locationOf(node);
  if (type) {
    line.type = type->str();
  } else if (!node.outputs().empty()) {
    line.type = node.output(0)->type()->str();
  }
  line.group = group;
  line.reason = std::move(reason);
  return line;
}

void ExplainRecorder::addGraph(GraphVerdicts verdicts) {
  graphs_.push_back(std::move(verdicts));
}

Explanation ExplainRecorder::finish(const std::shared_ptr<torch::jit::Graph>& optimized) const {
  Explanation out;
  if (optimized) out.optimized_graph = optimized->toString();
  for (size_t g = 0; g < graphs_.size(); ++g) {
    const auto first_group = static_cast<int64_t>(out.groups.size());
    for (const auto& subgraph : graphs_[g].groups) {
      out.groups.push_back(explainGroup(static_cast<int64_t>(g), subgraph));
    }
    for (NodeExplanation line : graphs_[g].nodes) {
      line.graph = static_cast<int64_t>(g);
      if (line.group >= 0) line.group += first_group;
      out.nodes.push_back(std::move(line));
    }
  }
  if (graphs_.empty()) {
    out.notes.push_back(isEnabled()
                            ? "the pass did not run: the executor was still profiling (raise "
                              "runs) or had optimized this graph before"
                            : "fusion is disabled (torch_fuser.enable() / TORCH_FUSER_ENABLE=1)");
  }
  return out;
}

std::string Explanation::report() const {
  std::ostringstream out;
  size_t unfused = 0;
  for (const NodeExplanation& line : nodes) unfused += line.group < 0;
  out << "torch_fuser.explain: " << groups.size() << " fusion group(s), " << unfused
      << " node(s) left to eager\n";
  for (const std::string& note : notes) out << "note: " << note << "\n";
  for (size_t g = 0; g < groups.size(); ++g) {
    const GroupExplanation& group = groups[g];
    out << "\ngroup " << g << ": " << group.kernel_name << " (graph " << group.graph << ", "
        << group.ops.size() << " ops)\n";
    for (const std::string& kernel : group.kernels) out << "  kernel " << kernel << "\n";
    out << "  launches " << group.launches << ", fallbacks ";
    int64_t total = 0;
    for (const auto& fallback : group.fallbacks) total += fallback.second;
    out << total << (group.fallbacks.empty() ? "" : ":") << "\n";
    for (const auto& fallback : group.fallbacks) {
      out << "    " << fallback.second << "x " << fallback.first << "\n";
    }
  }
  out << "\nnodes:\n";
  for (const NodeExplanation& line : nodes) {
    out << "  " << std::left << std::setw(28) << line.op << " " << std::setw(16)
        << (line.location.empty() ? "-" : line.location) << " ";
    if (line.group >= 0) {
      out << "fused in group " << line.group << "\n";
    } else {
      out << "NOT fused: " << line.reason << "\n";
    }
  }
  return out.str();
}

}  // namespace torch_fuser
