/*!
 * PushPilot service worker — shows PushPilot's Web Push notifications and reports
 * `delivered` and `clicked` events. See frontend/sdk/README.md.
 *
 * A service worker has no access to the page, so it reads its configuration from its own URL:
 *   /pushpilot-sw.js?key=<sdk_key>&api=<PushPilot API origin>
 * (pushpilot-sdk.js registers it that way). A site that already has a service worker can pull this one
 * into it instead: `self.PUSHPILOT_CONFIG = {sdkKey, apiOrigin}; importScripts(".../pushpilot-sw.js");`
 * (the URL parameters, when present, win).
 *
 * Push payload (decrypted, JSON):
 *   {title, body, url?, icon?, image?, actions?: [{action, title, icon?, url?}], data?, tag?,
 *    pp: {delivery: <signed delivery token>, notification: <id>}}
 */
// One function scope: when imported into a site's own worker, nothing here clashes with its names.
(() => {
  "use strict";

  const PUSHPILOT_PARAMS = new URL(self.location.href).searchParams;
  const PUSHPILOT_GLOBAL_CONFIG = self.PUSHPILOT_CONFIG || {};
  const PUSHPILOT_SDK_KEY = PUSHPILOT_PARAMS.get("key") || PUSHPILOT_GLOBAL_CONFIG.sdkKey || "";
  const PUSHPILOT_API = (PUSHPILOT_PARAMS.get("api") || PUSHPILOT_GLOBAL_CONFIG.apiOrigin || "").replace(/\/+$/, "");
  const PUSHPILOT_MAX_ACTIONS = 2;

  self.addEventListener("install", () => {
    // A new key or API origin (a new worker URL) takes over at once instead of waiting for every tab to close.
    // No clients.claim(): without a fetch handler, controlling open pages would change nothing.
    self.skipWaiting();
  });

  function isPlainObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  /** The payload as an object, or null for anything that is not a PushPilot message. */
  function parsePushPayload(data) {
    if (!data) {
      return null;
    }
    let message;
    try {
      message = data.json();
    } catch (error) {
      return null;
    }
    if (!isPlainObject(message) || (typeof message.title !== "string" && typeof message.body !== "string")) {
      return null;
    }
    return message;
  }

  /** An absolute http(s) URL resolved against the worker's scope, or null (no javascript:, data:, …). */
  function safeUrl(value) {
    if (typeof value !== "string" || value === "") {
      return null;
    }
    try {
      const url = new URL(value, self.registration.scope);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function buildNotification(message) {
    const pp = isPlainObject(message.pp) ? message.pp : {};
    const actions = [];
    const actionUrls = {};
    const browserMax = (self.Notification && Notification.maxActions) || PUSHPILOT_MAX_ACTIONS;
    const maxActions = Math.min(PUSHPILOT_MAX_ACTIONS, browserMax);
    for (const item of Array.isArray(message.actions) ? message.actions : []) {
      if (actions.length >= maxActions) {
        break;
      }
      if (!isPlainObject(item) || typeof item.action !== "string" || typeof item.title !== "string") {
        continue;
      }
      const action = { action: item.action, title: item.title };
      const icon = safeUrl(item.icon);
      if (icon) {
        action.icon = icon;
      }
      actions.push(action);
      const url = safeUrl(item.url);
      if (url) {
        actionUrls[item.action] = url;
      }
    }
    const options = {
      body: typeof message.body === "string" ? message.body : "",
      data: {
        url: safeUrl(message.url),
        pp: { delivery: pp.delivery || null, notification: pp.notification || null },
        actionUrls: actionUrls,
        data: message.data === undefined ? null : message.data,
      },
    };
    const icon = safeUrl(message.icon);
    const image = safeUrl(message.image);
    const badge = safeUrl(message.badge);
    if (icon) {
      options.icon = icon;
    }
    if (image) {
      options.image = image;
    }
    if (badge) {
      options.badge = badge;
    }
    if (actions.length) {
      options.actions = actions;
    }
    if (typeof message.tag === "string" && message.tag) {
      options.tag = message.tag;
    }
    return { title: typeof message.title === "string" ? message.title : "", options: options };
  }

  /** POST one event to PushPilot. Never rejects: analytics must not break showing or opening a notification. */
  function reportEvent(delivery, type) {
    if (!delivery || !PUSHPILOT_API || !PUSHPILOT_SDK_KEY) {
      return Promise.resolve(false);
    }
    const event = { delivery: delivery, type: type, occurred_at: new Date().toISOString() };
    const body = JSON.stringify({ events: [event] });
    return fetch(PUSHPILOT_API + "/sdk/v1/events", {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      keepalive: true,
      headers: { "Content-Type": "application/json", "X-SDK-Key": PUSHPILOT_SDK_KEY },
      body: body,
    }).then(
      (response) => response.ok,
      () => false
    );
  }

  async function handlePush(message) {
    const notification = buildNotification(message);
    await self.registration.showNotification(notification.title, notification.options);
    await reportEvent(notification.options.data.pp.delivery, "delivered");
  }

  self.addEventListener("push", (event) => {
    const message = parsePushPayload(event.data);
    if (!message) {
      return; // not ours (or not JSON): ignore it rather than show something meaningless
    }
    event.waitUntil(handlePush(message));
  });

  function sameDocument(a, b) {
    return a.split("#")[0] === b.split("#")[0];
  }

  /**
   * Focus a window already showing `url`, or open one. Never rejects: resolves
   * {how: "focused"|"opened", windowUrl, error} (error: why the browser refused, else null).
   */
  async function focusOrOpenWindow(url) {
    let how = "opened";
    try {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const existing = windows.find((client) => sameDocument(client.url, url) && "focus" in client);
      if (existing) {
        how = "focused";
        const focused = await existing.focus();
        return { how: how, windowUrl: focused ? focused.url : existing.url, error: null };
      }
      // Resolves null for a URL outside the worker's scope (another site), which still opens.
      const opened = await self.clients.openWindow(url);
      return { how: how, windowUrl: opened ? opened.url : null, error: null };
    } catch (error) {
      return { how: how, windowUrl: null, error: error.name + ": " + error.message };
    }
  }

  /**
   * What a click on a PushPilot notification does: close it, focus or open its URL — the clicked
   * action's own URL if it has one, else the notification's, else the site — and report `clicked`.
   * Named and on `self` so it can be driven directly (the tests do, through DevTools); browsers allow
   * opening or focusing a window only while a real `notificationclick` event is being handled.
   * Resolves a summary; never rejects.
   */
  async function handleNotificationClick(notification, action) {
    notification.close();
    const data = isPlainObject(notification.data) ? notification.data : {};
    const actionUrls = isPlainObject(data.actionUrls) ? data.actionUrls : {};
    const url = safeUrl((action && actionUrls[action]) || data.url) || self.registration.scope;
    const delivery = isPlainObject(data.pp) ? data.pp.delivery : null;
    // Start opening before anything else: the permission to open a window lasts a short while after the click.
    const opening = focusOrOpenWindow(url);
    const reporting = reportEvent(delivery, "clicked");
    const [windowResult, reported] = await Promise.all([opening, reporting]);
    return Object.assign({ url: url, action: action || "", reported: reported }, windowResult);
  }

  self.handleNotificationClick = handleNotificationClick;

  self.addEventListener("notificationclick", (event) => {
    event.waitUntil(handleNotificationClick(event.notification, event.action));
  });

  // `notificationclose` (dismissed) is deliberately not reported: the events contract has no such type.
})();
