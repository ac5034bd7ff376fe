#include "torch/csrc/jit/codegen/fuser/fusion_subgraph.h"

#include "torch/csrc/jit/codegen/fuser/input_views.h"

#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>

namespace torch_fuser {

using torch::jit::Node;
using torch::jit::Value;

c10::Symbol fusedStackKind() {
  static const c10::Symbol kind = c10::Symbol::fromQualString("fuser::FusedStack");
  return kind;
}

bool isJoin(const torch::jit::Node* node) {
  return node->kind() == c10::prim::FusedConcat || node->kind() == fusedStackKind();
}

bool isSumToSize(const torch::jit::Node* node) {
  return node->kind() == c10::aten::_grad_sum_to_size;
}

bool isSizeList(const torch::jit::Value* v) {
  c10::TypePtr type = v->type();
  if (const auto optional = type->cast<c10::OptionalType>()) type = optional->getElementType();
  const auto list = type->cast<c10::ListType>();
  return list && list->getElementType()->kind() == c10::TypeKind::IntType;
}

std::vector<const Value*> kernelOutputs(const torch::jit::Graph& subgraph) {
  std::vector<const Value*> out;
  for (const Value* output : subgraph.outputs()) {
    if (isJoin(output->node())) {
      for (const Value* piece : output->node()->inputs()) out.push_back(piece);
    } else {
      out.push_back(output);
    }
  }
  return out;
}

c10::Symbol pushedChunkRankAttr() {
  static const c10::Symbol symbol = c10::Symbol::attr("tf_chunked_rank");
  return symbol;
}

c10::Symbol pushedChunkIdAttr() {
  static const c10::Symbol symbol = c10::Symbol::attr("tf_push");
  return symbol;
}

c10::Symbol pushedPieceAttr() {
  static const c10::Symbol symbol = c10::Symbol::attr("tf_piece");
  return symbol;
}

c10::Symbol pushedWholeAttr() {
  static const c10::Symbol symbol = c10::Symbol::attr("tf_whole");
  return symbol;
}

namespace {

// The views of `v` (a view of input `input` reached through `steps`) that anything but
// views reads, depth first in use order.
void collectViews(const Value* v, int input, std::vector<ViewStep>& steps,
                  std::vector<KernelTensor>& out) {
  std::vector<const Node*> seen;
  for (const torch::jit::Use& use : v->uses()) {
    const c10::optional<ViewStep> step = inputViewStep(use.user);
    if (!step || std::find(seen.begin(), seen.end(), use.user) != seen.end()) continue;
    seen.push_back(use.user);
    steps.push_back(*step);
    const Value* viewed = use.user->output();
    const bool read = std::any_of(viewed->uses().begin(), viewed->uses().end(),
                                  [](const torch::jit::Use& u) { return !isInputView(u.user); });
    if (read) {
      KernelTensor tensor{input};
      tensor.view = use.user;
      tensor.views = steps;
      out.push_back(std::move(tensor));
    }
    collectViews(viewed, input, steps, out);
    steps.pop_back();
  }
}

}  // namespace

std::vector<KernelTensor> kernelTensors(const torch::jit::Graph& subgraph) {
  std::vector<KernelTensor> out;
  for (size_t i = 0; i < subgraph.inputs().size(); ++i) {
    const Value* input = subgraph.inputs()[i];
    if (!input->type()->cast<c10::TensorType>()) continue;
    std::vector<const Node*> chunks;
    bool direct = input->uses().empty();
    for (const torch::jit::Use& use : input->uses()) {
      if (use.user->kind() == c10::prim::ConstantChunk) {
        if (std::find(chunks.begin(), chunks.end(), use.user) == chunks.end())
          chunks.push_back(use.user);
      } else if (!isInputView(use.user)) {
        direct = true;
      }
    }
    if (direct) out.push_back(KernelTensor{static_cast<int>(i)});
    std::vector<ViewStep> steps;
    collectViews(input, static_cast<int>(i), steps, out);
    std::sort(chunks.begin(), chunks.end(),
              [](const Node* a, const Node* b) { return b->isAfter(a); });
    for (const Node* chunk : chunks) {
      for (size_t k = 0; k < chunk->outputs().size(); ++k) {
        KernelTensor piece{static_cast<int>(i), chunk, static_cast<int>(k),
                           chunk->i(c10::attr::chunks), chunk->i(c10::attr::dim)};
        if (chunk->hasAttribute(pushedChunkIdAttr())) {
          piece.push = chunk->i(pushedChunkIdAttr());
          piece.rank = chunk->i(pushedChunkRankAttr());
        }
        out.push_back(piece);
      }
    }
  }
  return out;
}

}  // namespace torch_fuser
