// The template editor's form state and its conversion to the API's content.
import type { Schemas } from "../api/client";

export type Content = Schemas["TemplateContent"];
export type ChannelKind = Schemas["ChannelKind"];

export const CHANNELS: ChannelKind[] = ["inbox", "email", "push", "webhook", "mqtt"];

export const CHANNEL_NAMES: Record<ChannelKind, string> = {
  inbox: "Inbox",
  email: "Email",
  push: "Push",
  webhook: "Webhook",
  mqtt: "MQTT",
};

export type Draft = {
  inbox: { on: boolean; title: string; body: string; data: Record<string, string> };
  email: { on: boolean; subject: string; html: string; text: string; from: string; replyTo: string };
  push: { on: boolean; title: string; body: string; data: Record<string, string> };
  webhook: { on: boolean; payload: string };
  mqtt: { on: boolean; payload: string };
};

export function emptyDraft(): Draft {
  return {
    inbox: { on: true, title: "", body: "", data: {} },
    email: { on: false, subject: "", html: "", text: "", from: "", replyTo: "" },
    push: { on: false, title: "", body: "", data: {} },
    webhook: { on: false, payload: "" },
    mqtt: { on: false, payload: "" },
  };
}

export function draftOf(content: Content): Draft {
  const draft = emptyDraft();
  draft.inbox = content.inbox
    ? { on: true, title: content.inbox.title, body: content.inbox.body ?? "", data: content.inbox.data ?? {} }
    : { ...draft.inbox, on: false };
  if (content.email) {
    const { subject, html, text, from, reply_to } = content.email;
    draft.email = { on: true, subject, html: html ?? "", text: text ?? "", from: from ?? "", replyTo: reply_to ?? "" };
  }
  if (content.push) draft.push = { on: true, title: content.push.title, body: content.push.body ?? "", data: content.push.data ?? {} };
  if (content.webhook) draft.webhook = { on: true, payload: content.webhook.payload };
  if (content.mqtt) draft.mqtt = { on: true, payload: content.mqtt.payload };
  return draft;
}

const orNull = (text: string) => (text.trim() === "" ? null : text);

export function contentOf(draft: Draft): Content {
  const content: Content = {};
  if (draft.inbox.on) content.inbox = { title: draft.inbox.title, body: draft.inbox.body, data: draft.inbox.data };
  if (draft.email.on) {
    const { subject, html, text, from, replyTo } = draft.email;
    content.email = { subject, html: orNull(html), text: orNull(text), from: orNull(from), reply_to: orNull(replyTo) };
  }
  if (draft.push.on) content.push = { title: draft.push.title, body: draft.push.body, data: draft.push.data };
  if (draft.webhook.on) content.webhook = { payload: draft.webhook.payload };
  if (draft.mqtt.on) content.mqtt = { payload: draft.mqtt.payload };
  return content;
}

export function channelsOf(content: Content): ChannelKind[] {
  return CHANNELS.filter((c) => content[c] != null);
}

export const parseKeys = (text: string): string[] =>
  text
    .split(/[\s,]+/)
    .map((k) => k.trim())
    .filter(Boolean);
