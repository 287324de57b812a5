"""Seeds the global template library. Ids are uuid5(LIBRARY_NAMESPACE, key), stable across installs,
so a workspace's reference to a library template means the same copy everywhere."""

import uuid

from django.db import migrations

LIBRARY_NAMESPACE = uuid.UUID("6f1c7a52-4d0e-4c1b-9a57-2d6a2f0d9b11")

# (key, category, name, tone, title, body)
TEMPLATES = [
    # festive
    ("diwali-delight", "festive", "Diwali Delight", "festive",
     "Happy Diwali, {{ first_name|default:\"friend\" }}! ✨",
     "Light up the festival with our Diwali specials. Fresh offers are waiting for you today only."),
    ("christmas-countdown", "festive", "Christmas Countdown", "cheerful",
     "Only a few days to Christmas 🎄",
     "Gifts sorted? Browse our holiday picks and get them delivered in time for the big day."),
    ("new-year-fresh-start", "festive", "New Year, Fresh Start", "inspiring",
     "New year, new goals, {{ first_name|default:\"there\" }}",
     "Start the year strong: pick one habit and we'll remind you to keep it going every week."),
    ("eid-mubarak", "festive", "Eid Mubarak", "warm",
     "Eid Mubarak from all of us 🌙",
     "Wishing you and your family joy and peace. Celebrate with our festive collection, now live."),
    ("holi-colours", "festive", "Colours of Holi", "playful",
     "Splash into Holi savings 🎨",
     "Bright colours, brighter deals. Celebrate Holi with offers picked just for you."),
    # weekend
    ("self-care-saturday", "weekend", "Self-Care Saturday", "calm",
     "It's Self-Care Saturday, {{ first_name|default:\"friend\" }}",
     "Take a breath. We've gathered a few small ways to recharge this weekend — start with one."),
    ("weekend-success", "weekend", "Weekend Success Starts Tonight", "energetic",
     "Weekend success starts tonight",
     "Plan tomorrow in two minutes: open the app and set your top three goals for the weekend."),
    ("sunday-reset", "weekend", "Sunday Reset", "calm",
     "Your Sunday reset is ready",
     "Get ahead of the week: review what's coming up and clear one small task before Monday."),
    ("friday-flash-sale", "weekend", "Friday Flash Sale", "urgent",
     "Flash sale: this weekend only ⚡",
     "Our weekend prices end Sunday at midnight. Tap to see what's on offer in {{ city|default:\"your city\" }}."),
    # retention
    ("streak-keeper", "retention", "Keep Your Streak", "encouraging",
     "Don't break your streak, {{ first_name|default:\"champ\" }}!",
     "You're on a roll. Two minutes today keeps your streak alive — let's do it."),
    ("new-feature", "retention", "New Feature Announcement", "informative",
     "Something new just landed",
     "We've added a feature you asked for. Open the app to try it and tell us what you think."),
    ("monthly-recap", "retention", "Your Monthly Recap", "friendly",
     "Your month in review is here",
     "See what you achieved this month and what's next. Your personal recap is one tap away."),
    ("loyalty-reward", "retention", "Loyalty Reward", "appreciative",
     "A thank-you gift for you 🎁",
     "You've been with us for a while, {{ first_name|default:\"friend\" }}. Here's a reward to say thanks."),
    # re-engagement
    ("we-miss-you", "re-engagement", "We Miss You", "warm",
     "We miss you, {{ first_name|default:\"friend\" }}",
     "It's been a while. A lot has changed since your last visit — come take a look."),
    ("cart-reminder", "re-engagement", "Items Left in Cart", "helpful",
     "You left something behind",
     "The items in your cart are still waiting, but stock is limited. Complete your order in one tap."),
    ("comeback-offer", "re-engagement", "Come-Back Offer", "persuasive",
     "A welcome-back offer, just for you",
     "Come back this week and enjoy a special offer on your next order. It expires in 7 days."),
    ("unfinished-setup", "re-engagement", "Finish Your Setup", "helpful",
     "You're one step away",
     "Finish setting up your account to unlock everything. It takes less than a minute."),
    # transactional
    ("order-shipped", "transactional", "Order Shipped", "informative",
     "Your order is on its way 📦",
     "Good news, {{ first_name|default:\"there\" }}: your order has shipped. Tap to track it."),
    ("payment-received", "transactional", "Payment Received", "formal",
     "Payment received — thank you",
     "We've received your payment. Your receipt is available in the app under Orders."),
    ("appointment-reminder", "transactional", "Appointment Reminder", "formal",
     "Reminder: your appointment is tomorrow",
     "Please arrive 10 minutes early. Need to reschedule? You can change it in the app."),
    ("password-changed", "transactional", "Password Changed", "formal",
     "Your password was changed",
     "If this was you, no action is needed. If not, secure your account now from the app."),
    # pharma
    ("refill-reminder", "pharma", "Prescription Refill Reminder", "caring",
     "Time to refill your prescription",
     "Your medicine may be running low, {{ first_name|default:\"there\" }}. Order a refill today to stay on track."),
    ("dose-reminder", "pharma", "Daily Dose Reminder", "caring",
     "Friendly reminder: today's dose",
     "Take your medicine as prescribed by your doctor. Tap to mark today's dose as taken."),
    ("flu-season", "pharma", "Flu Season Tips", "informative",
     "Flu season is here 🤧",
     "Wash hands often, rest well and stay hydrated. Ask your pharmacist whether a flu shot is right for you."),
    ("health-checkup", "pharma", "Health Check-up Reminder", "caring",
     "Is a health check-up due?",
     "Regular check-ups help catch problems early. Book a visit with your doctor at a time that suits you."),
    ("pharmacy-order-ready", "pharma", "Pharmacy Order Ready", "informative",
     "Your pharmacy order is ready",
     "Your order is ready for pickup at {{ attributes.store_name|default:\"your pharmacy\" }}. Bring your ID."),
]


def seed(apps, schema_editor):
    GlobalTemplate = apps.get_model("campaign_library", "GlobalTemplate")
    for key, category, name, tone, title, body in TEMPLATES:
        GlobalTemplate.objects.update_or_create(
            id=uuid.uuid5(LIBRARY_NAMESPACE, key),
            defaults={"key": key, "category": category, "name": name, "tone": tone, "title": title,
                      "body": body, "language": "en"},
        )


def unseed(apps, schema_editor):
    GlobalTemplate = apps.get_model("campaign_library", "GlobalTemplate")
    GlobalTemplate.objects.filter(key__in=[t[0] for t in TEMPLATES]).delete()


class Migration(migrations.Migration):
    dependencies = [("campaign_library", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
