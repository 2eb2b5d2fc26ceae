// The MQTT topic layout: requests on <prefix>/req/<clientId>, replies on <prefix>/res/<clientId>.
export class MqttTopics {
  private readonly requestRoot: string;

  constructor(readonly prefix: string) {
    if (/[+#]/.test(prefix)) throw new Error(`topic_prefix "${prefix}": the MQTT wildcards + and # are not allowed in a prefix`);
    this.requestRoot = `${prefix}/req/`;
  }

  /** The subscription that receives every client's requests. */
  get requestFilter(): string {
    return `${this.requestRoot}+`;
  }

  /** The client id a request topic names, or undefined when the topic is not a request topic of this prefix. */
  clientIdOf(topic: string): string | undefined {
    if (!topic.startsWith(this.requestRoot)) return undefined;
    const clientId = topic.slice(this.requestRoot.length);
    return clientId.length > 0 && !clientId.includes("/") ? clientId : undefined;
  }

  requestTopic(clientId: string): string {
    return `${this.requestRoot}${clientId}`;
  }

  responseTopic(clientId: string): string {
    return `${this.prefix}/res/${clientId}`;
  }
}
