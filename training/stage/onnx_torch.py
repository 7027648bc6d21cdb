"""Run an exported ONNX graph with torch ops (there is no Python onnxruntime here). Supports the ops that
torch.onnx.export emits for StageNet; anything else raises. Used to check exports and to evaluate the .onnx file."""
import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


class OnnxTorch:
    def __init__(self, path):
        self.model = onnx.load(path)
        self.init = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in self.model.graph.initializer}

    @staticmethod
    def _attrs(n):
        return {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}

    @staticmethod
    def _pad(x, p, value=0.0):
        if not p or not any(p):
            return x
        # ONNX pads: [h_begin, w_begin, h_end, w_end]
        return F.pad(x, (p[1], p[3], p[0], p[2]), value=value)

    def __call__(self, x_np):
        env = dict(self.init)
        env[self.model.graph.input[0].name] = torch.from_numpy(np.ascontiguousarray(x_np))
        for n in self.model.graph.node:
            a = self._attrs(n)
            i = [env[k] if k else None for k in n.input]
            op = n.op_type
            if op == "Conv":
                y = F.conv2d(self._pad(i[0], a.get("pads")), i[1], i[2] if len(i) > 2 else None,
                             stride=a.get("strides", 1), dilation=a.get("dilations", 1), groups=a.get("group", 1))
            elif op == "Relu":
                y = F.relu(i[0])
            elif op == "MaxPool":
                y = F.max_pool2d(self._pad(i[0], a.get("pads"), float("-inf")), a["kernel_shape"], a.get("strides"))
            elif op == "Add":
                y = i[0] + i[1]
            elif op == "Sub":
                y = i[0] - i[1]
            elif op == "Mul":
                y = i[0] * i[1]
            elif op == "Div":
                y = i[0] / i[1]
            elif op == "ReduceMean":
                y = i[0].mean(dim=tuple(a["axes"]), keepdim=bool(a.get("keepdims", 1)))
            elif op == "GlobalAveragePool":
                y = i[0].mean((2, 3), keepdim=True)
            elif op == "Flatten":
                y = i[0].flatten(a.get("axis", 1))
            elif op == "Gemm":
                wt = i[1].t() if a.get("transB", 0) else i[1]
                y = a.get("alpha", 1.0) * (i[0] @ wt) + (a.get("beta", 1.0) * i[2] if len(i) > 2 else 0)
            elif op == "MatMul":
                y = i[0] @ i[1]
            elif op == "Softmax":
                y = torch.softmax(i[0], a.get("axis", -1))
            elif op == "Identity":
                y = i[0]
            elif op == "Constant":
                y = torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
            else:
                raise NotImplementedError(op)
            env[n.output[0]] = y
        return env[self.model.graph.output[0].name].numpy()
