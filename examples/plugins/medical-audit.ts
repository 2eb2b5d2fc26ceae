// The system description's medical plugin: masks 患者姓名 before the model sees it and appends a disclaimer to every answer.
//
// Config:  plugins:
//            - path: ./examples/plugins/medical-audit.ts
// It has only postProcess, so answers are delivered in one piece at the end (see docs/plugins.md, "Streaming").
import { BasePlugin, type PluginContext } from "clawbot";

export default class MedicalAuditPlugin extends BasePlugin {
  preProcess(context: PluginContext) {          // sensitive data masked before the model sees it
    if (context.input.includes("患者姓名")) context.input = context.input.replaceAll("患者姓名", "[脱敏]");
    return context;
  }
  postProcess(response: string) {               // disclaimer appended to every answer
    return `${response}\n\n本回复仅供参考,不构成医疗建议`;
  }
}
