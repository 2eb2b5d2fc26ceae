// The MQTT topic layout: requests on <prefix>/req/<client>, replies under the subject's own topic (<prefix>/res/<subject>).

/** The default `response_topic` template. */
export const defaultResponseTemplate = "{prefix}/res/{subject}";

export class MqttTopics {
  private readonly requestRoot: string;

  constructor(
    readonly prefix: string,
    private readonly responseTemplate: string = defaultResponseTemplate,
  ) {
    if (/[+#]/.test(prefix)) throw new Error(`topic_prefix "${prefix}": the MQTT wildcards + and # are not allowed in a prefix`);
    if (responseTemplate.split("{subject}").length !== 2) throw new Error(`response_topic "${responseTemplate}": must contain {subject} exactly once`);
    this.requestRoot = `${prefix}/req/`;
    const sample = this.responseTopic("subject");
    if (sample === undefined || /[+#]/.test(sample)) throw new Error(`response_topic "${responseTemplate}": the MQTT wildcards + and # are not allowed`);
    if (sample.startsWith(this.requestRoot)) throw new Error(`response_topic "${responseTemplate}": replies must not go under the request topics ${this.requestFilter}`);
  }

  /** The subscription that receives every client's requests. */
  get requestFilter(): string {
    return `${this.requestRoot}+`;
  }

  /** The client segment a request topic names; undefined when the topic is not a request topic of this prefix, or names no client. */
  clientOf(topic: string): string | undefined {
    if (!topic.startsWith(this.requestRoot)) return undefined;
    const client = topic.slice(this.requestRoot.length);
    return isTopicLevel(client) ? client : undefined;
  }

  requestTopic(client: string): string {
    return `${this.requestRoot}${client}`;
  }

  /**
   * A subject's own reply topic: the template with {prefix} and {subject} filled in. Undefined when the subject
   * cannot be one topic level (empty, or containing `/`, `+`, `#` or NUL): such a subject is never answered.
   */
  responseTopic(subject: string): string | undefined {
    if (!isTopicLevel(subject)) return undefined;
    return this.responseTemplate.replaceAll("{prefix}", this.prefix).replace("{subject}", subject);
  }

  /** Whether a requested (MQTT 5) response topic is the subject's reply topic or below it, without wildcards. */
  allowsResponseTopic(subject: string, topic: string): boolean {
    const own = this.responseTopic(subject);
    if (own === undefined || /[+#\u0000]/.test(topic)) return false;
    return topic === own || (topic.startsWith(`${own}/`) && topic.length > own.length + 1);
  }
}

function isTopicLevel(value: string): boolean {
  return value.length > 0 && !/[/+#\u0000]/.test(value);
}
