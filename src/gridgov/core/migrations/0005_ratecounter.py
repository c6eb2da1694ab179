# Rate limit counters shared by every worker process (core/throttle.py).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0004_idempotency'),
    ]

    operations = [
        migrations.CreateModel(
            name='RateCounter',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=40)),
                ('ident', models.CharField(max_length=200)),
                ('window_start', models.BigIntegerField()),
                ('hits', models.PositiveIntegerField(default=0)),
                ('expires_at', models.BigIntegerField()),
            ],
            options={
                'verbose_name': 'rate counter',
                'indexes': [models.Index(fields=['expires_at'], name='ratecounter_expiry_idx')],
                'constraints': [models.UniqueConstraint(fields=('name', 'ident', 'window_start'), name='ratecounter_one_per_window')],
            },
        ),
    ]
