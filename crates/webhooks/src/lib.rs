//! fastcomments-webhooks
