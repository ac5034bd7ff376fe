#include "torch/csrc/jit/codegen/fuser/fallback.h"

#include "torch/csrc/jit/codegen/fuser/kernel_spec.h"

#include "torch/csrc/jit/codegen/fuser/lowering.h"

#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/interpreter.h>

#include <map>
#include <vector>

namespace torch_fuser {

std::shared_ptr<torch::jit::Graph> fallbackGraph(torch::jit::Graph& subgraph) {
  std::shared_ptr<torch::jit::Graph> graph = subgraph.copy();
  std::map<int64_t, std::vector<torch::jit::Node*>> pushes;
  for (torch::jit::Node* node : graph->nodes()) {
    if (node->kind() == c10::prim::ConstantChunk && node->hasAttribute(pushedChunkIdAttr())) {
      pushes[node->i(pushedChunkIdAttr())].push_back(node);
    }
  }
  for (const auto& push : pushes) {
    const std::vector<torch::jit::Node*>& chunks = push.second;
    torch::jit::WithInsertPoint guard(chunks.front());
    std::vector<torch::jit::Value*> leaves;
    for (torch::jit::Node* chunk : chunks) leaves.push_back(chunk->input());
    torch::jit::Value* list = graph->insertNode(graph->createList(c10::TensorType::get(), leaves))
                                  ->output();
    torch::jit::Value* expanded = graph->insert(c10::aten::broadcast_tensors, {list});
    torch::jit::Node* unpack = graph->insertNode(graph->createListUnpack(expanded, leaves.size()));
    for (size_t i = 0; i < chunks.size(); ++i) {
      torch::jit::Node* chunk = chunks[i];
      chunk->replaceInput(0, unpack->outputs()[i]);
      const int64_t rank = chunk->i(pushedChunkRankAttr());
      if (rank > 0) chunk->i_(c10::attr::dim, chunk->i(c10::attr::dim) + rank);
    }
  }
  return graph;
}

void runFallback(KernelSpec& spec, torch::jit::Stack& stack) {
  torch::jit::InterpreterState state(spec.fallbackCode());
  state.run(stack);
}

}  // namespace torch_fuser
