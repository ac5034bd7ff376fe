#include "torch/csrc/jit/codegen/fuser/fallback.h"

#include "torch/csrc/jit/codegen/fuser/kernel_spec.h"

#include "torch/csrc/jit/codegen/fuser/lowering.h"

#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/runtime/interpreter.h>

#include <set>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace torch_fuser {

namespace {

// Joins inside a fusion are written back as the ops they came from: fuser::FusedStack has
// no operator of its own, and the executor's fallback function (see guards.h) fuses
// aten::cat / aten::stack again.
void restoreJoins(torch::jit::Graph& graph) {
  std::vector<torch::jit::Node*> joins;
  for (torch::jit::Node* node : graph.nodes()) {
    if (node->hasAttribute(pushedWholeAttr())) continue;  // undone with its push
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

// A pushed chunk (graph_fuser.cpp: tryPushChunk) computes piece k of chunk(value) from
// piece k of every input. Here it is undone: the value is computed once from the whole
// inputs (a copy of the ops computing one piece) and chunked as the user wrote it, so the
// interpreter — and autodiff, in the executor's fallback function — sees the program the
// user wrote, with its results and errors whatever the shapes. The per-piece copies and
// the chunks of the inputs are left to dead-code elimination.
// The value `piece_value` (piece `piece` of a push) computed whole: a copy of the ops
// computing it, reading the chunked inputs instead of their pieces, inserted before
// `point`.
torch::jit::Value* computeWhole(torch::jit::Graph& graph,
                                const std::vector<torch::jit::Node*>& chunks,
                                torch::jit::Value* piece_value, int64_t piece,
                                torch::jit::Node* point) {
  std::unordered_map<torch::jit::Value*, torch::jit::Value*> env;
  for (torch::jit::Node* chunk : chunks) env[chunk->outputs()[piece]] = chunk->input();
  std::vector<torch::jit::Node*> cone;
  std::vector<torch::jit::Value*> work = {piece_value};
  std::unordered_set<torch::jit::Node*> seen;
  while (!work.empty()) {
    torch::jit::Value* v = work.back();
    work.pop_back();
    torch::jit::Node* node = v->node();
    if (env.count(v) || node->kind() == c10::prim::Param || node->kind() == c10::prim::Constant ||
        !seen.insert(node).second) {
      continue;
    }
    cone.push_back(node);
    for (torch::jit::Value* in : node->inputs()) work.push_back(in);
  }
  std::sort(cone.begin(), cone.end(),
            [](torch::jit::Node* a, torch::jit::Node* b) { return b->isAfter(a); });
  torch::jit::WithInsertPoint guard(point);
  for (torch::jit::Node* node : cone) {
    torch::jit::Node* clone =
        graph.insertNode(graph.createClone(node, [&env](torch::jit::Value* v) {
          auto it = env.find(v);
          return it == env.end() ? v : it->second;
        }));
    for (const c10::Symbol tag : {pushedChunkIdAttr(), pushedPieceAttr()}) {
      if (clone->hasAttribute(tag)) clone->removeAttribute(tag);
    }
    for (size_t o = 0; o < node->outputs().size(); ++o)
      env[node->outputs()[o]] = clone->outputs()[o];
  }
  auto it = env.find(piece_value);
  return it == env.end() ? piece_value : it->second;
}

void undoPushedChunk(torch::jit::Graph& graph, int64_t push) {
  std::vector<torch::jit::Node*> chunks;
  std::vector<torch::jit::Node*> pieces;  // in node order
  std::vector<torch::jit::Node*> wholes;  // joins of values also returned whole
  for (torch::jit::Node* node : graph.nodes()) {
    if (!node->hasAttribute(pushedChunkIdAttr()) || node->i(pushedChunkIdAttr()) != push) continue;
    if (node->hasAttribute(pushedWholeAttr())) {
      wholes.push_back(node);
    } else {
      (node->kind() == c10::prim::ConstantChunk ? chunks : pieces).push_back(node);
    }
  }
  TORCH_INTERNAL_ASSERT(!chunks.empty(), "a pushed chunk without its input chunks");
  const int64_t count = chunks.front()->i(c10::attr::chunks);
  const int64_t rank = chunks.front()->i(pushedChunkRankAttr());
  const int64_t dim = chunks.front()->i(c10::attr::dim) + rank;  // as the user wrote it
  std::vector<torch::jit::Value*> piece_values(static_cast<size_t>(count), nullptr);
  torch::jit::Node* first = nullptr;
  if (pieces.empty()) {
    // The value is one input itself: its pieces are the chunk's outputs.
    first = chunks.front();
    for (int64_t k = 0; k < count; ++k) piece_values[k] = first->outputs()[k];
  } else {
    first = pieces.front();
    for (torch::jit::Node* piece : pieces)
      piece_values[piece->i(pushedPieceAttr())] = piece->output();
  }
  // The ops computing the first piece, read from the whole inputs instead of their pieces.
  const int64_t template_piece = pieces.empty() ? 0 : first->i(pushedPieceAttr());
  torch::jit::Value* whole =
      computeWhole(graph, chunks, piece_values[template_piece], template_piece, first);
  // Values the group also returns whole: computed whole likewise, not joined from pieces.
  for (torch::jit::Node* join : wholes) {
    join->output()->replaceAllUsesWith(computeWhole(graph, chunks, join->input(0), 0, join));
    join->destroy();
  }
  torch::jit::WithInsertPoint guard(first);
  torch::jit::Value* list = graph.insert(
      c10::aten::chunk, {whole, graph.insertConstant(count), graph.insertConstant(dim)});
  torch::jit::Node* unpack = graph.insertNode(graph.createListUnpack(list, count));
  for (int64_t k = 0; k < count; ++k) {
    if (piece_values[k]) piece_values[k]->replaceAllUsesWith(unpack->outputs()[k]);
  }
}

}  // namespace

std::shared_ptr<torch::jit::Graph> fallbackGraph(torch::jit::Graph& subgraph) {
  std::shared_ptr<torch::jit::Graph> graph = subgraph.copy();
  restoreJoins(*graph);
  std::set<int64_t> pushes;
  for (torch::jit::Node* node : graph->nodes()) {
    if (node->kind() == c10::prim::ConstantChunk && node->hasAttribute(pushedChunkIdAttr())) {
      pushes.insert(node->i(pushedChunkIdAttr()));
    }
  }
  for (int64_t push : pushes) undoPushedChunk(*graph, push);
  torch::jit::EliminateDeadCode(graph);
  return graph;
}

void runFallback(KernelSpec& spec, torch::jit::Stack& stack) {
  torch::jit::InterpreterState state(spec.fallbackCode());
  state.run(stack);
}

}  // namespace torch_fuser
