/** What each role may do on the campaign side (DESIGN.md "Roles"), to hide buttons the API would refuse. */
import { roleAtLeast } from "./roles";

type MaybeRole = string | null | undefined;

/** Create, edit, schedule and send campaigns and templates: members and up. */
export const canWriteCampaigns = (role: MaybeRole) => roleAtLeast(role, "member");
/** Manage subscribers and segments: members and up. */
export const canManageAudience = (role: MaybeRole) => roleAtLeast(role, "member");
/** Connect Firebase / Web Push apps: admins and the owner. */
export const canManageApps = (role: MaybeRole) => roleAtLeast(role, "admin");
/** Send a test message through an app: members and up. */
export const canSendTest = (role: MaybeRole) => roleAtLeast(role, "member");
/** Ask the AI for copy (drafts): members and up, like editing campaigns. */
export const canUseAi = (role: MaybeRole) => roleAtLeast(role, "member");
/** Change the workspace's AI provider and brand voice: admins and the owner. */
export const canConfigureAi = (role: MaybeRole) => roleAtLeast(role, "admin");
