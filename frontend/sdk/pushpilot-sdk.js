/*!
 * PushPilot Web SDK — collects Web Push subscribers for a PushPilot app.
 *
 * Plain modern JavaScript, no dependencies, no build step. Exposes `window.PushPilot`:
 *   PushPilot.init({sdkKey, apiOrigin, serviceWorkerPath?, serviceWorkerScope?, vapidPublicKey?})
 *   PushPilot.subscribe({externalUserId?, tags?, attributes?})   -> Promise<{subscriberId, created}>
 *   PushPilot.identify({externalUserId?, tags?, attributes?, locale?, timezone?}) -> Promise<object>
 *   PushPilot.unsubscribe()                                      -> Promise<boolean>
 *   PushPilot.isSubscribed()                                     -> Promise<boolean>
 *   PushPilot.isSupported(), PushPilot.permission(), PushPilot.getSubscriberId()
 * Failures are rejected Promises carrying a `PushPilot.Error` (`code` + a readable `message`);
 * only init() throws, synchronously, on a bad configuration. See frontend/sdk/README.md.
 */
(function (global) {
  "use strict";

  const VERSION = "1.0.0";
  const STORAGE_PREFIX = "pushpilot:";
  const WORKER_ACTIVATION_TIMEOUT_MS = 15000;

  class PushPilotError extends Error {
    constructor(code, message, extra) {
      super(`PushPilot: ${message}`);
      this.name = "PushPilotError";
      this.code = code;
      Object.assign(this, extra);
    }
  }

  let config = null;

  const isPlainObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

  // ---------------------------------------------------------------- configuration

  function normalizeApiOrigin(apiOrigin) {
    let url;
    try {
      url = new URL(String(apiOrigin), global.location.href);
    } catch (error) {
      throw new PushPilotError("invalid_config", `apiOrigin is not a URL: ${apiOrigin}`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new PushPilotError("invalid_config", "apiOrigin must be an http(s) URL.");
    }
    // A path prefix is kept (an API behind a proxy under /push, say), without its trailing slash.
    return (url.origin + url.pathname).replace(/\/+$/, "");
  }

  /** Configure the SDK. Synchronous; throws a PushPilot.Error on a bad configuration. */
  function init(options = {}) {
    if (typeof options.sdkKey !== "string" || options.sdkKey.trim() === "") {
      throw new PushPilotError("invalid_config", "init() needs sdkKey (the app's public SDK key).");
    }
    if (!options.apiOrigin) {
      throw new PushPilotError("invalid_config", "init() needs apiOrigin (e.g. https://push.example.com).");
    }
    config = {
      sdkKey: options.sdkKey.trim(),
      apiOrigin: normalizeApiOrigin(options.apiOrigin),
      serviceWorkerPath: options.serviceWorkerPath || "/pushpilot-sw.js",
      serviceWorkerScope: options.serviceWorkerScope || "/",
      vapidPublicKey: options.vapidPublicKey || null,
    };
    return PushPilot;
  }

  function requireInit() {
    if (!config) {
      throw new PushPilotError("not_initialized", "call PushPilot.init({sdkKey, apiOrigin}) first.");
    }
    return config;
  }

  function isSupported() {
    return (
      global.isSecureContext !== false &&
      "serviceWorker" in global.navigator &&
      "PushManager" in global &&
      "Notification" in global
    );
  }

  function unsupportedReason() {
    if (global.isSecureContext === false) {
      return "Web Push needs a secure context (https, or http://localhost during development).";
    }
    if (!("serviceWorker" in global.navigator)) {
      return "this browser has no service workers (or they are disabled, e.g. in private browsing).";
    }
    if (!("PushManager" in global)) {
      return "this browser does not support the Push API (on iOS, add the site to the home screen first).";
    }
    return "this browser does not support notifications.";
  }

  function permission() {
    return "Notification" in global ? global.Notification.permission : "denied";
  }

  // ---------------------------------------------------------------- storage (per SDK key)

  function storageKey(name) {
    return `${STORAGE_PREFIX}${requireInit().sdkKey}:${name}`;
  }

  function storeGet(name) {
    try {
      return global.localStorage.getItem(storageKey(name));
    } catch (error) {
      return null; // storage disabled: everything still works, the browser just forgets between visits
    }
  }

  function storeSet(name, value) {
    try {
      if (value === null || value === undefined) {
        global.localStorage.removeItem(storageKey(name));
      } else {
        global.localStorage.setItem(storageKey(name), String(value));
      }
    } catch (error) {
      /* storage disabled or full */
    }
  }

  function getSubscriberId() {
    return config ? storeGet("subscriber_id") : null;
  }

  // ---------------------------------------------------------------- HTTP

  /** One call to the SDK API; resolves {status, payload} or rejects with a PushPilot.Error. */
  async function send(method, path, body) {
    const { apiOrigin, sdkKey } = requireInit();
    const headers = { "X-SDK-Key": sdkKey };
    const options = { method, headers, mode: "cors", credentials: "omit", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    let text;
    try {
      response = await global.fetch(apiOrigin + path, options);
      text = await response.text();
    } catch (error) {
      throw new PushPilotError(
        "network_error",
        `cannot reach the PushPilot API at ${apiOrigin} (${error && error.message}).`,
        { cause: error }
      );
    }
    let payload = null;
    try {
      payload = text ? JSON.parse(text) : null;
    } catch (error) {
      payload = null;
    }
    if (!response.ok) {
      // The API's one error shape: {"error": {"code", "message", "details"}}.
      const apiError = payload && isPlainObject(payload.error) ? payload.error : {};
      const reason = apiError.message || response.statusText || "no reason given";
      throw new PushPilotError(
        apiError.code || `http_${response.status}`,
        `${method} ${path} failed with HTTP ${response.status}: ${reason}`,
        { status: response.status, details: apiError.details || null }
      );
    }
    return { status: response.status, payload };
  }

  async function request(method, path, body) {
    return (await send(method, path, body)).payload;
  }

  // ---------------------------------------------------------------- the pieces of subscribe()

  function deviceLocale() {
    const navigator = global.navigator;
    return navigator.language || (navigator.languages || [])[0] || null;
  }

  function deviceTimezone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || null;
    } catch (error) {
      return null;
    }
  }

  /** The profile in the API's field names; `withDeviceDefaults` fills locale and timezone from the browser. */
  function profileFields(profile = {}, withDeviceDefaults = false) {
    if (!isPlainObject(profile)) {
      throw new PushPilotError("invalid_argument", "the profile must be an object.");
    }
    const body = {};
    if (profile.externalUserId !== undefined && profile.externalUserId !== null) {
      body.external_user_id = String(profile.externalUserId);
    }
    if (profile.tags !== undefined) {
      if (!Array.isArray(profile.tags)) {
        throw new PushPilotError("invalid_argument", "tags must be an array of strings.");
      }
      body.tags = profile.tags.map(String);
    }
    if (profile.attributes !== undefined) {
      if (!isPlainObject(profile.attributes)) {
        throw new PushPilotError("invalid_argument", "attributes must be an object.");
      }
      body.attributes = profile.attributes;
    }
    const locale = profile.locale !== undefined ? profile.locale : withDeviceDefaults ? deviceLocale() : null;
    const timezone = profile.timezone !== undefined ? profile.timezone : withDeviceDefaults ? deviceTimezone() : null;
    if (locale) {
      body.locale = String(locale);
    }
    if (timezone) {
      body.timezone = String(timezone);
    }
    return body;
  }

  function requestPermission() {
    const Notification = global.Notification;
    if (Notification.permission !== "default") {
      return Promise.resolve(Notification.permission);
    }
    // Older Safari takes a callback and returns undefined; everything else returns a Promise.
    return new Promise((resolve) => {
      const maybePromise = Notification.requestPermission(resolve);
      if (maybePromise && typeof maybePromise.then === "function") {
        maybePromise.then(resolve, () => resolve(Notification.permission));
      }
    });
  }

  function workerScriptUrl({ serviceWorkerPath, sdkKey, apiOrigin }) {
    const url = new URL(serviceWorkerPath, global.location.href);
    // The worker cannot see this page: it reads its configuration from its own URL.
    url.searchParams.set("key", sdkKey);
    url.searchParams.set("api", apiOrigin);
    return url.href;
  }

  function waitForActiveWorker(registration) {
    if (registration.active) {
      return Promise.resolve(registration);
    }
    const worker = registration.installing || registration.waiting;
    if (!worker) {
      return Promise.reject(new PushPilotError("service_worker_failed", "the registration has no service worker."));
    }
    return new Promise((resolve, reject) => {
      const timer = global.setTimeout(() => {
        reject(new PushPilotError("service_worker_failed", "the service worker did not activate in time."));
      }, WORKER_ACTIVATION_TIMEOUT_MS);
      worker.addEventListener("statechange", () => {
        if (worker.state === "activated") {
          global.clearTimeout(timer);
          resolve(registration);
        } else if (worker.state === "redundant") {
          global.clearTimeout(timer);
          reject(new PushPilotError("service_worker_failed", "the service worker failed to install."));
        }
      });
    });
  }

  /** Register pushpilot-sw.js (with its configuration in the URL) and wait until it is active. */
  async function registerServiceWorker() {
    const cfg = requireInit();
    let registration;
    try {
      registration = await global.navigator.serviceWorker.register(workerScriptUrl(cfg), {
        scope: cfg.serviceWorkerScope,
        updateViaCache: "none",
      });
    } catch (error) {
      throw new PushPilotError(
        "service_worker_failed",
        `could not register the service worker ${cfg.serviceWorkerPath} (host pushpilot-sw.js at your ` +
          `site's root, on the page's origin): ${error && error.message}`,
        { cause: error }
      );
    }
    return waitForActiveWorker(registration);
  }

  async function existingRegistration() {
    const { serviceWorkerScope } = requireInit();
    if (!isSupported()) {
      return null;
    }
    const scope = new URL(serviceWorkerScope, global.location.href).href;
    return (await global.navigator.serviceWorker.getRegistration(scope)) || null;
  }

  /** The app's VAPID public key: from init(), else from GET /sdk/v1/config (fetched once). */
  async function fetchVapidPublicKey() {
    const cfg = requireInit();
    if (cfg.vapidPublicKey) {
      return cfg.vapidPublicKey;
    }
    const payload = (await request("GET", "/sdk/v1/config")) || {};
    const key =
      payload.vapid_public_key ||
      payload.vapidPublicKey ||
      payload.application_server_key ||
      (isPlainObject(payload.web_push) && payload.web_push.vapid_public_key) ||
      null;
    if (typeof key !== "string" || key === "") {
      throw new PushPilotError(
        "not_web_push_app",
        "/sdk/v1/config returned no VAPID public key: is this the SDK key of a Web Push app?"
      );
    }
    cfg.vapidPublicKey = key;
    return key;
  }

  function base64UrlToBytes(value) {
    let base64 = String(value).replace(/-/g, "+").replace(/_/g, "/");
    base64 += "===".slice((base64.length + 3) % 4);
    let binary;
    try {
      binary = global.atob(base64);
    } catch (error) {
      throw new PushPilotError("invalid_vapid_key", "the VAPID public key is not base64url.");
    }
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    if (bytes.length !== 65 || bytes[0] !== 4) {
      throw new PushPilotError("invalid_vapid_key", "the VAPID public key is not an uncompressed P-256 point.");
    }
    return bytes;
  }

  function sameBytes(buffer, bytes) {
    if (!buffer) {
      return false;
    }
    const view = new Uint8Array(buffer);
    return view.length === bytes.length && view.every((byte, index) => byte === bytes[index]);
  }

  async function pushSubscriptionFor(registration, applicationServerKey) {
    let subscription = await registration.pushManager.getSubscription();
    // A subscription made with another key (the site moved to another app) cannot receive this app's pushes.
    const currentKey = subscription && subscription.options && subscription.options.applicationServerKey;
    if (subscription && !sameBytes(currentKey, applicationServerKey)) {
      await subscription.unsubscribe();
      subscription = null;
    }
    if (subscription) {
      return subscription;
    }
    try {
      return await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });
    } catch (error) {
      throw new PushPilotError(
        "push_subscribe_failed",
        `the browser could not create a push subscription (${error && error.name}: ${error && error.message}).`,
        { cause: error }
      );
    }
  }

  /** POST a PushSubscription's JSON (plus the profile) to /sdk/v1/subscribe and remember the subscriber id. */
  async function postSubscription(subscriptionJSON, profile = {}) {
    if (!isPlainObject(subscriptionJSON) || typeof subscriptionJSON.endpoint !== "string" ||
        !isPlainObject(subscriptionJSON.keys)) {
      throw new PushPilotError("invalid_argument", "not a PushSubscription JSON ({endpoint, keys}).");
    }
    const body = {
      subscription: {
        endpoint: subscriptionJSON.endpoint,
        expirationTime: subscriptionJSON.expirationTime === undefined ? null : subscriptionJSON.expirationTime,
        keys: { p256dh: subscriptionJSON.keys.p256dh, auth: subscriptionJSON.keys.auth },
      },
      ...profileFields(profile, true),
    };
    const { status, payload } = await send("POST", "/sdk/v1/subscribe", body);
    const subscriberId = payload && payload.subscriber_id;
    if (!subscriberId) {
      throw new PushPilotError("bad_response", "/sdk/v1/subscribe answered without a subscriber_id.");
    }
    storeSet("subscriber_id", subscriberId);
    storeSet("endpoint", subscriptionJSON.endpoint);
    return { subscriberId, created: status === 201 }; // 201: a new subscriber, 200: a known one
  }

  // ---------------------------------------------------------------- public API

  /**
   * Ask for permission, register the worker, create the push subscription and send it to PushPilot.
   * Call it from a click (or other user-gesture) handler: browsers ignore permission prompts otherwise.
   */
  async function subscribe(profile = {}) {
    requireInit();
    if (!isSupported()) {
      throw new PushPilotError("unsupported", unsupportedReason());
    }
    profileFields(profile); // validate before prompting the user
    // Nothing is awaited before this call, so it still runs inside the user gesture.
    const result = await requestPermission();
    if (result !== "granted") {
      throw result === "denied"
        ? new PushPilotError(
            "permission_denied",
            "notifications are blocked for this site; the user can allow them in the browser's site settings."
          )
        : new PushPilotError("permission_dismissed", "the notification permission prompt was dismissed.");
    }
    const [registration, vapidPublicKey] = await Promise.all([registerServiceWorker(), fetchVapidPublicKey()]);
    const subscription = await pushSubscriptionFor(registration, base64UrlToBytes(vapidPublicKey));
    return postSubscription(subscription.toJSON(), profile);
  }

  /** Attach a user id, tags, attributes, locale or timezone to this browser's subscriber. */
  async function identify(profile = {}) {
    requireInit();
    const subscriberId = getSubscriberId();
    if (!subscriberId) {
      throw new PushPilotError("not_subscribed", "this browser is not subscribed; call subscribe() first.");
    }
    const body = { subscriber_id: subscriberId, ...profileFields(profile) };
    return (await request("POST", "/sdk/v1/identify", body)) || {};
  }

  /** Drop the browser's push subscription and tell PushPilot. Resolves true when there was one to drop. */
  async function unsubscribe() {
    requireInit();
    const subscriberId = getSubscriberId();
    const registration = await existingRegistration();
    const subscription = registration ? await registration.pushManager.getSubscription() : null;
    const endpoint = subscription ? subscription.endpoint : storeGet("endpoint");
    if (subscription) {
      await subscription.unsubscribe();
    }
    if (!subscriberId && !endpoint) {
      return false;
    }
    // The stored id survives a failed call below, so calling unsubscribe() again retries it.
    const body = subscriberId ? { subscriber_id: subscriberId } : { subscription: { endpoint } };
    await request("POST", "/sdk/v1/unsubscribe", body);
    storeSet("subscriber_id", null);
    storeSet("endpoint", null);
    return true;
  }

  /** True when notifications are allowed, a push subscription exists and PushPilot knows this browser. */
  async function isSubscribed() {
    requireInit();
    if (!isSupported() || permission() !== "granted" || !getSubscriberId()) {
      return false;
    }
    const registration = await existingRegistration();
    return Boolean(registration && (await registration.pushManager.getSubscription()));
  }

  const PushPilot = {
    version: VERSION,
    Error: PushPilotError,
    init,
    isSupported,
    permission,
    subscribe,
    identify,
    unsubscribe,
    isSubscribed,
    getSubscriberId,
    // Internal pieces, exposed for tests and debugging; not part of the supported API.
    _postSubscription: postSubscription,
    _registerServiceWorker: registerServiceWorker,
    _fetchVapidPublicKey: fetchVapidPublicKey,
    _config: () => (config ? { ...config } : null),
  };

  global.PushPilot = PushPilot;
})(window);
