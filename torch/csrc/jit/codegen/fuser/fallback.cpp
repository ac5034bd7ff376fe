#include "torch/csrc/jit/codegen/fuser/fallback.h"

#include "torch/csrc/jit/codegen/fuser/kernel_spec.h"

#include "torch/csrc/jit/codegen/fuser/lowering.h"

#include <ATen/ATen.h>
#include <ATen/ExpandUtils.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/interpreter.h>
#include <torch/library.h>

#include <map>
#include <vector>

namespace torch_fuser {

namespace {

// fuser::broadcast_chunk(tensors, chunks, dim): the pieces chunk(f(tensors...), chunks,
// dim) is computed from, for an elementwise f — every dimensioned tensor expanded to the
// broadcast shape and chunked (as views), zero-dim ones passed as they are (they keep
// their place in type promotion). Flat, tensor-major. Raises what eager raises: shapes
// that do not broadcast, a zero-dim value, fewer pieces than `chunks`.
std::vector<at::Tensor> broadcastChunk(at::TensorList tensors, int64_t chunks, int64_t dim) {
  std::vector<int64_t> shape;
  for (const at::Tensor& t : tensors) {
    if (t.dim() > 0) shape = at::infer_size(shape, t.sizes());
  }
  TORCH_CHECK(!shape.empty(), "chunk expects at least a 1-dimensional tensor");
  const int64_t d = c10::maybe_wrap_dim(dim, static_cast<int64_t>(shape.size()));
  std::vector<at::Tensor> out;
  for (const at::Tensor& t : tensors) {
    if (t.dim() == 0) {
      out.insert(out.end(), static_cast<size_t>(chunks), t);
      continue;
    }
    std::vector<at::Tensor> pieces = t.expand(shape).chunk(chunks, d);
    TORCH_CHECK(static_cast<int64_t>(pieces.size()) == chunks, "Expected chunk to return ", chunks,
                " outputs, but got ", pieces.size());
    out.insert(out.end(), pieces.begin(), pieces.end());
  }
  return out;
}

TORCH_LIBRARY_FRAGMENT(fuser, m) {
  m.def("broadcast_chunk(Tensor[] tensors, int chunks, int dim) -> Tensor[]", &broadcastChunk);
}

const c10::Symbol& broadcastChunkKind() {
  static const c10::Symbol kind = c10::Symbol::fromQualString("fuser::broadcast_chunk");
  return kind;
}

// Joins inside a fusion are written back as the ops they came from: fuser::FusedStack has
// no operator of its own, and the executor's fallback function (see guards.h) fuses
// aten::cat / aten::stack again.
void restoreJoins(torch::jit::Graph& graph) {
  std::vector<torch::jit::Node*> joins;
  for (torch::jit::Node* node : graph.nodes()) {
    if (node->kind() == fusedStackKind() || node->kind() == c10::prim::FusedConcat) {
      joins.push_back(node);
    }
  }
  for (torch::jit::Node* join : joins) {
    torch::jit::WithInsertPoint guard(join);
    torch::jit::Value* list =
        graph.insertNode(graph.createList(c10::TensorType::get(), join->inputs()))->output();
    torch::jit::Value* dim = graph.insertConstant(join->i(c10::attr::dim));
    const c10::Symbol op = join->kind() == fusedStackKind() ? c10::aten::stack : c10::aten::cat;
    torch::jit::Value* result = graph.insert(op, {list, dim});
    result->setType(join->output()->type());
    join->output()->replaceAllUsesWith(result);
    join->destroy();
  }
}

}  // namespace

std::shared_ptr<torch::jit::Graph> fallbackGraph(torch::jit::Graph& subgraph) {
  std::shared_ptr<torch::jit::Graph> graph = subgraph.copy();
  restoreJoins(*graph);
  std::map<int64_t, std::vector<torch::jit::Node*>> pushes;
  for (torch::jit::Node* node : graph->nodes()) {
    if (node->kind() == c10::prim::ConstantChunk && node->hasAttribute(pushedChunkIdAttr())) {
      pushes[node->i(pushedChunkIdAttr())].push_back(node);
    }
  }
  for (const auto& push : pushes) {
    const std::vector<torch::jit::Node*>& chunks = push.second;
    torch::jit::Node* first = chunks.front();
    const int64_t count = first->i(c10::attr::chunks);
    const int64_t rank = first->i(pushedChunkRankAttr());
    const int64_t dim = first->i(c10::attr::dim) + rank;  // as the user wrote it
    torch::jit::WithInsertPoint guard(first);
    std::vector<torch::jit::Value*> leaves;
    for (torch::jit::Node* chunk : chunks) leaves.push_back(chunk->input());
    torch::jit::Value* list =
        graph->insertNode(graph->createList(c10::TensorType::get(), leaves))->output();
    torch::jit::Value* pieces = graph->insert(
        broadcastChunkKind(), {list, graph->insertConstant(count), graph->insertConstant(dim)});
    torch::jit::Node* unpack =
        graph->insertNode(graph->createListUnpack(pieces, leaves.size() * count));
    for (size_t i = 0; i < chunks.size(); ++i) {
      for (int64_t k = 0; k < count; ++k) {
        chunks[i]->outputs()[k]->replaceAllUsesWith(unpack->outputs()[i * count + k]);
      }
      chunks[i]->destroy();
    }
  }
  return graph;
}

void runFallback(KernelSpec& spec, torch::jit::Stack& stack) {
  torch::jit::InterpreterState state(spec.fallbackCode());
  state.run(stack);
}

}  // namespace torch_fuser
